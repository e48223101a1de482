<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.40" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" classificationMin="0" classificationMax="0.5" nodataColor="">
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" minimumValue="0" maximumValue="0.5" labelPrecision="2">
            <item alpha="255" value="0.0" label="0.0" color="#ffffff"/>
            <item alpha="255" value="0.125" label="0.125" color="#d9d9d9"/>
            <item alpha="255" value="0.25" label="0.25" color="#bdbdbd"/>
            <item alpha="255" value="0.375" label="0.375" color="#737373"/>
            <item alpha="255" value="0.5" label="0.5" color="#252525"/>
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
  </pipe>
  <blendMode>0</blendMode>
</qgis>
